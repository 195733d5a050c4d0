"""Tables for the generated documents, one function per table; scripts/readme_tables.py fills the templates."""
