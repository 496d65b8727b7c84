"""Packaged data: the boilerplate rule pack and the topic taxonomy."""
