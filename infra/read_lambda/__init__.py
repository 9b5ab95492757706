"""The read Lambda: the gateway's code routes on AWS (see ``handler``)."""
