"""The reports of a conformance run: the summary and verdicts, ``report.html``, ``junit.xml`` and
``cucumber.json``."""
