"""The `stack` fixture (four service processes) comes from crm_testing's pytest plugin."""
