"""The dashboard generator and query extractor live next to the dashboards
(roles/monitoring/dashboards-src/): make them importable."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "roles", "monitoring", "dashboards-src"))
