"""Sphinx configuration for the sio-workers documentation."""

project = "sio-workers"
author = "sio-workers developers"
copyright = "2026, sio-workers developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False
suppress_warnings = ["autodoc.import_object"] if False else []
html_theme = "alabaster"
html_static_path = ["_static"]
exclude_patterns = ["_build"]
