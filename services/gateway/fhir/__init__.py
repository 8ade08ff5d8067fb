"""The FHIR R4 door of the DSP (read-only, for professionals' software) and the patient's export."""
