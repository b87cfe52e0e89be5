"""The files the stages share: the dataset layout (folder, zip, official download, WebDataset
shards), label maps, the official release's tables and predictions files. Reading and
writing them needs neither the generator nor torch."""
