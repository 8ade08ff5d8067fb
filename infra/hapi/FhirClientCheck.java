// HAPI FHIR's generic client (hapi-fhir-client) driving the DSP's FHIR API as a practice's software would
// (infra/hapi.py runs it; tests/integration/test_fhir_api.py reads its answer). Arguments:
//   <base url> <bearer token> <matricule> [<document id the patient blocked>]
// It finds the patient by her matricule (a POST _search: the matricule stays out of the URL), pages through her
// DocumentReferences two at a time following the `next` links, reads the first one and its DiagnosticReport, its
// history and its haemoglobin values, then asks for the blocked document. One JSON object on stdout says what it saw.
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.SearchStyleEnum;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.client.interceptor.BearerTokenAuthInterceptor;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.DiagnosticReport;
import org.hl7.fhir.r4.model.DocumentReference;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;

public class FhirClientCheck {
  public static void main(String[] args) throws Exception {
    String base = args[0], token = args[1], matricule = args[2];
    String blocked = args.length > 3 ? args[3] : null;
    FhirContext ctx = FhirContext.forR4();
    ctx.getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.ONCE);  // reads /metadata
    IGenericClient client = ctx.newRestfulGenericClient(base);
    client.registerInterceptor(new BearerTokenAuthInterceptor(token));
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    StringBuilder json = new StringBuilder("{");

    Bundle patients = client.search().forResource(Patient.class)
        .where(Patient.IDENTIFIER.exactly().systemAndCode("urn:dsp-mesh:fhir:sid:matricule", matricule))
        .usingStyle(SearchStyleEnum.POST).returnBundle(Bundle.class).execute();
    String pid = patients.getEntryFirstRep().getResource().getIdElement().getIdPart();
    field(json, "patients", String.valueOf(patients.getTotal()));
    field(json, "patient_id", q(pid));

    List<String> ids = new ArrayList<>();
    List<String> totals = new ArrayList<>();
    Bundle page = client.search().forResource(DocumentReference.class)
        .where(DocumentReference.PATIENT.hasId(pid)).count(2).returnBundle(Bundle.class).execute();
    int pages = 0;
    while (true) {
      pages++;
      totals.add(String.valueOf(page.getTotal()));
      for (Bundle.BundleEntryComponent e : page.getEntry()) {
        ids.add(q(e.getResource().getIdElement().getIdPart()));
      }
      if (page.getLink(Bundle.LINK_NEXT) == null) break;
      page = client.loadPage().next(page).execute();
    }
    field(json, "pages", String.valueOf(pages));
    field(json, "totals", "[" + String.join(",", totals) + "]");
    field(json, "documents", "[" + String.join(",", ids) + "]");

    String first = ids.get(0).replace("\"", "");
    DocumentReference doc = client.read().resource(DocumentReference.class).withId(first).execute();
    field(json, "read_document", q(doc.getDescription()));
    DiagnosticReport report = client.read().resource(DiagnosticReport.class).withId(first).execute();
    field(json, "report_status", q(report.getStatus().toCode()));
    field(json, "report_version", q(report.getMeta().getVersionId()));
    Bundle history = client.history().onInstance(report.getIdElement().toUnqualifiedVersionless())
        .returnBundle(Bundle.class).execute();
    List<String> versions = new ArrayList<>();
    for (Bundle.BundleEntryComponent e : history.getEntry()) {
      versions.add(q(e.getResource().getMeta().getVersionId()));
    }
    field(json, "history", "[" + String.join(",", versions) + "]");

    Bundle values = client.search().forResource(Observation.class)
        .where(Observation.PATIENT.hasId(pid)).and(Observation.CODE.exactly().systemAndCode("http://loinc.org", "718-7"))
        .returnBundle(Bundle.class).execute();
    List<String> hb = new ArrayList<>();
    for (Bundle.BundleEntryComponent e : values.getEntry()) {
      Observation o = (Observation) e.getResource();
      hb.add(o.getValueQuantity().getValue().toPlainString() + " " + o.getValueQuantity().getUnit());
    }
    field(json, "haemoglobin", "[" + String.join(",", hb.stream().map(FhirClientCheck::q).toList()) + "]");

    if (blocked != null) {
      try {
        client.read().resource(DocumentReference.class).withId(blocked).execute();
        field(json, "blocked_read", "200");
      } catch (BaseServerResponseException refused) {
        field(json, "blocked_read", String.valueOf(refused.getStatusCode()));
      }
    }
    out.println(json.append("}"));
  }

  static void field(StringBuilder json, String name, String value) {
    if (json.length() > 1) json.append(',');
    json.append(q(name)).append(':').append(value);
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
