"""The project's build and check tools: the deploy rehearsal, the artifact's pruning and its import audit, the
architecture choice, the OpenAPI document's writer, and the template loader they share with local mode."""
