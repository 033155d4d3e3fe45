"""What the tests share: builders of events and answers, in-memory stand-ins for the ports, Terra's simulated world."""
