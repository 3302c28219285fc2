"""The application: the command line, its console, the demo and the Airflow runner.

The top layer: it assembles the stages (``pipelines``) into what a user runs. Nothing below
imports it (``make lint`` checks the layers).
"""
