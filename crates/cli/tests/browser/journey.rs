//! The hazard closed loop through the pages on a phone screen.
