"""Data subjects' rights: requests and their clocks, the access package, erasure on request."""
