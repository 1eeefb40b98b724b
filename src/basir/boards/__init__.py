"""Custom dashboards: named sets of metric panels, private to a user or shared in a namespace."""
