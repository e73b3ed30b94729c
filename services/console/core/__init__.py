"""The console's pure core: run state folded from events, the pages' view models, plan checks and small charts."""
