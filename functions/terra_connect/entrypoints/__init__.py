"""One module per Lambda function, each holding its handler and its composition (what it builds once per container)."""
