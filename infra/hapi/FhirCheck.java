// HAPI FHIR's R4 instance validator as a long-lived process (infra/hapi.py starts it): one JSON resource per line
// on stdin, one JSON array of the validator's messages (severity, location, message) per line on stdout, after a
// first line {"ready":true}. Terminology: HAPI's built-in code systems and value sets (no terminology server, so
// LOINC and UCUM codes are reported as "unknown code system" warnings, never as errors).
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import org.hl7.fhir.common.hapi.validation.support.*;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import java.io.*;
import java.nio.charset.StandardCharsets;

public class FhirCheck {
  public static void main(String[] args) throws Exception {
    FhirContext ctx = FhirContext.forR4();
    ValidationSupportChain chain = new ValidationSupportChain(
        new DefaultProfileValidationSupport(ctx),
        new CommonCodeSystemsTerminologyService(ctx),
        new InMemoryTerminologyServerValidationSupport(ctx),
        new SnapshotGeneratingValidationSupport(ctx));
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    FhirValidator validator = ctx.newValidator().registerValidatorModule(module);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    out.println("{\"ready\":true}");
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      ValidationResult result = validator.validateWithResult(line);
      StringBuilder b = new StringBuilder("[");
      boolean first = true;
      for (SingleValidationMessage m : result.getMessages()) {
        if (!first) b.append(',');
        first = false;
        b.append("{\"severity\":").append(q(m.getSeverity().getCode()))
         .append(",\"location\":").append(q(m.getLocationString()))
         .append(",\"message\":").append(q(m.getMessage())).append('}');
      }
      out.println(b.append(']'));
    }
  }

  static String q(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
