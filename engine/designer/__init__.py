"""The process designer's side: drafts, deploying and the deployment log, simulation, diffs,
and moving running instances onto another deployed version."""
