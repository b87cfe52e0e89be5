"""What a run did: counts per reason and per class, printed by the command."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from siscore.extract.records import KEPT, REASONS


@dataclass
class ExtractResult:
    """The outcome of one ``extract`` run.

    ``rows`` are the final report rows of this run's candidates (objects
    decided now or in an earlier run, plus one row per class not extracted).
    """

    out: Path
    source: str
    rows: list[dict[str, str]]
    processed: int = 0
    resumed: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def objects(self) -> list[dict[str, str]]:
        """Rows that stand for one object (not the per-class aggregates)."""
        return [r for r in self.rows if r["count"] == "1" and r["image_id"]]

    @property
    def kept(self) -> int:
        return sum(r["status"] == KEPT for r in self.rows)

    def per_reason(self) -> Counter[str]:
        """Input rows per reason (aggregated rows count for all the rows they stand for)."""
        counts: Counter[str] = Counter()
        for r in self.rows:
            counts[r["reason"]] += int(r["count"] or 1)
        return counts

    def per_class(self) -> dict[str, Counter[str]]:
        """label -> Counter of 'kept' and 'dropped' objects."""
        out: dict[str, Counter[str]] = {}
        for r in self.objects:
            out.setdefault(r["label"], Counter())[r["status"]] += 1
        return dict(sorted(out.items()))

    def summary(self) -> str:
        n = len(self.objects)
        rate = f"; {self.processed / self.seconds:.1f} objects/s" if self.seconds > 0 and self.processed else ""
        lines = [f"{self.source}: {self.kept} of {n} candidate objects kept in {self.out} "
                 f"({self.processed} processed now, {self.resumed} already done{rate})"]
        reasons = self.per_reason()
        if reasons:
            lines.append("by reason (input rows):")
            for reason in REASONS:
                if reasons.get(reason):
                    lines.append(f"  {reason:<20} {reasons[reason]:>8}  {REASONS[reason]}")
        classes = self.per_class()
        if classes:
            lines.append(f"per class: {'':<19} {'kept':>6} {'dropped':>8}")
            lines += [f"  {label:<28} {c['kept']:>6} {c['dropped']:>8}" for label, c in classes.items()]
        skipped = [r for r in self.rows if r["count"] != "1" or not r["image_id"]]
        if skipped:
            lines.append("not extracted:")
            for r in sorted(skipped, key=lambda r: -int(r["count"] or 1))[:20]:
                lines.append(f"  {r['detail']}")
            if len(skipped) > 20:
                lines.append(f"  ... and {len(skipped) - 20} more (see extract_report.csv)")
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"every candidate is in {self.out / 'extract_report.csv'}; the cut-outs are "
                     f"listed in {self.out / 'foregrounds.csv'}")
        return "\n".join(lines)
