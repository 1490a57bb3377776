"""Generated demo data: Northwind Home, an online retailer of home goods."""

from cxloop.demo.generator import DemoDataset, generate_demo, generate_events, write_csv

__all__ = ["DemoDataset", "generate_demo", "generate_events", "write_csv"]
