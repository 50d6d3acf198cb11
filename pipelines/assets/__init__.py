"""Dagster assets: thin wiring from warehouse tables to the plain functions that build the next ones."""
