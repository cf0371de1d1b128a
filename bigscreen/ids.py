"""Every Dash component ID, in one place."""

HOME_TICK = "home-tick"
HOME_AS_OF = "home-as-of"


def kpi(name: str) -> str:
    return f"kpi-{name.replace('_', '-')}"
