"""Transport-neutral core: answering, command routing, digests. Plain Python on typed models."""
