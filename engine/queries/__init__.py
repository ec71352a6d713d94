"""Read-side queries from indexed tables: the inbox, task and process lists, the API's lists,
office reports and operational metrics. Nothing here writes."""
