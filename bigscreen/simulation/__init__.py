"""The event simulator's parts: vocabulary, the city as the API shows it, event bodies, case lives.

`bigscreen.simulate.Simulator` drives them through the real HTTP API only.
"""
