"""The demo city: real district outlines, generated streets, communities and grids, people and workers.

Entry points: ``bigscreen.geo.citybuild`` (build_city, store_city) and ``bigscreen.geo.locate``
(GridLocator). No Dash imports here.
"""
