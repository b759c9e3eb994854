"""The records desk (D9961): requests for copies, their clock, fees, packages and links."""
