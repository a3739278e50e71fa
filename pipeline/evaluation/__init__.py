"""The official DAVIS measures (region J, boundary F, their statistics) and their reports.

Evaluation never imports the model: it reads PNG folders and scores them.
"""
