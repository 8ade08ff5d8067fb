"""The myDSP web portal (issue 13): server-rendered pages over the portal API, in French, German and English."""
