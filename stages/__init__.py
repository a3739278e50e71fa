"""Thin stage commands: parse arguments, load a params section, one library call, write outputs."""
