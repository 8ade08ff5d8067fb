"""The HTTP edge of the mesh for the patient portal."""
