"""records: ingests laboratories' results into patients' DSP documents."""
