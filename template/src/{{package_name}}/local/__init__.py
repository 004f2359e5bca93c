"""Everything that exists only to run on one machine: the demo and the local stand-ins.

Production modules never import this package (ruff's banned-api rule, TID251, enforces it),
and the image leaves it out (.dockerignore): what runs on AWS is the package above it.
"""
