"""seenby: a conformance suite and reference server for chat message read receipts.

Its parts are subpackages: ``seenby.harness`` (targets, wire clients, ``seenby run``,
``seenby load``), ``seenby.steps`` (the pytest plugin and step definitions), ``seenby.features``
(the Gherkin scenarios), ``seenby.reference_server`` (the bundled server) and
``seenby.contract`` (the vocabulary and the OpenAPI / AsyncAPI documents both sides share). In
the repository they are the top-level folders of those names.
"""
