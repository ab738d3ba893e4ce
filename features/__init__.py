"""Gherkin features, one per spec area, shipped as package data."""
