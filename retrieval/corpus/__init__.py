"""Corpus stages: repair the damaged encoding, parse Q&A sessions and notes into typed models."""
