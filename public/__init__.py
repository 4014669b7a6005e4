"""What citizens see: the scan profile (with its cache and counter), the H5 pages (profile, complaint
form, tracking), posters, and the code endpoints that draw a code in its credit colour."""
