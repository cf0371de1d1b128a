"""The event simulator's parts: vocabulary, the city as the API shows it, event bodies, case lives, and the
side steps of a life (mediation of disputes, whistles and report-ins).

`bigscreen.simulation.simulator.Simulator` drives them through the real HTTP API only.
"""
