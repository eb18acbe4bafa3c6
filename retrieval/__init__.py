"""Retrieval: the pipeline that turns the damaged Q&A seed into cited search hits.

Stages, one module each: corpus.repair -> corpus.parse -> chunk -> lexical/dense -> vectors -> fuse -> search.
Nothing heavy (torch, faiss, models) is imported at package import time.
"""
