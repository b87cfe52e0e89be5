"""Built-in interventions beyond the paper, each written on the public API."""
