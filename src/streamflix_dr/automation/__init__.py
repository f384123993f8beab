"""The in-cloud automation: Lambda entry points named by the template. Ships in the Lambda zip."""
