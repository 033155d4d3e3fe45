"""The domain: rules of the product, free of AWS, HTTP frameworks and Terra's wire format."""
