package medplumtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"

	"github.com/medplumcli/medplum/client"
)

// resourceTypes are the FHIR R4 resource types plus Medplum's own, as
// Medplum 5.0.10 serves them (TestSearchParamTableShape holds them to its
// definitions: no IdentityProvider or PasswordChangeRequest, which answer
// "Unknown resource type").
var resourceTypes = setOf(
	// FHIR R4
	"Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment", "AppointmentResponse",
	"AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct", "BodyStructure", "Bundle", "CapabilityStatement",
	"CarePlan", "CareTeam", "CatalogEntry", "ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse",
	"ClinicalImpression", "CodeSystem", "Communication", "CommunicationRequest", "CompartmentDefinition",
	"Composition", "ConceptMap", "Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
	"CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric", "DeviceRequest",
	"DeviceUseStatement", "DiagnosticReport", "DocumentManifest", "DocumentReference", "EffectEvidenceSynthesis",
	"Encounter", "Endpoint", "EnrollmentRequest", "EnrollmentResponse", "EpisodeOfCare", "EventDefinition",
	"Evidence", "EvidenceVariable", "ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag",
	"Goal", "GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy", "Immunization",
	"ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide", "InsurancePlan", "Invoice",
	"Library", "Linkage", "List", "Location", "Measure", "MeasureReport", "Media", "Medication",
	"MedicationAdministration", "MedicationDispense", "MedicationKnowledge", "MedicationRequest",
	"MedicationStatement", "MedicinalProduct", "MedicinalProductAuthorization", "MedicinalProductContraindication",
	"MedicinalProductIndication", "MedicinalProductIngredient", "MedicinalProductInteraction",
	"MedicinalProductManufactured", "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
	"MedicinalProductUndesirableEffect", "MessageDefinition", "MessageHeader", "MolecularSequence", "NamingSystem",
	"NutritionOrder", "Observation", "ObservationDefinition", "OperationDefinition", "OperationOutcome",
	"Organization", "OrganizationAffiliation", "Parameters", "Patient", "PaymentNotice", "PaymentReconciliation",
	"Person", "PlanDefinition", "Practitioner", "PractitionerRole", "Procedure", "Provenance", "Questionnaire",
	"QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchDefinition", "ResearchElementDefinition",
	"ResearchStudy", "ResearchSubject", "RiskAssessment", "RiskEvidenceSynthesis", "Schedule", "SearchParameter",
	"ServiceRequest", "Slot", "Specimen", "SpecimenDefinition", "StructureDefinition", "StructureMap",
	"Subscription", "Substance", "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
	"SubstanceReferenceInformation", "SubstanceSourceMaterial", "SubstanceSpecification", "SupplyDelivery",
	"SupplyRequest", "Task", "TerminologyCapabilities", "TestReport", "TestScript", "ValueSet",
	"VerificationResult", "VisionPrescription",
	// Medplum
	"AccessPolicy", "Agent", "AsyncJob", "Bot", "BulkDataExport", "ClientApplication", "DomainConfiguration",
	"JsonWebKey", "Login", "Project", "ProjectMembership",
	"SmartAppLaunch", "User", "UserConfiguration", "UserSecurityRequest",
)

// Access classes (packages/core/src/access.ts): project-admin resource types
// are readable and writable only by project admins; super-admin types only by
// super admins.
var (
	projectAdminTypes = setOf("Project", "ProjectMembership", "User", "UserSecurityRequest")
	superAdminTypes   = setOf("Login", "JsonWebKey", "DomainConfiguration", "SmartAppLaunch")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Property kinds for the light validation of the resource types the CLI
// writes: s string-like primitive, b boolean, n number, o object, a array.
var baseProps = map[string]byte{
	"resourceType": 's', "id": 's', "meta": 'o', "implicitRules": 's', "language": 's',
	"text": 'o', "contained": 'a', "extension": 'a', "modifierExtension": 'a',
}

var humanProps = map[string]byte{
	"identifier": 'a', "active": 'b', "name": 'a', "telecom": 'a', "gender": 's', "birthDate": 's',
	"address": 'a', "photo": 'a', "communication": 'a',
}

var typeProps = map[string]map[string]byte{
	"Patient": merged(humanProps, map[string]byte{
		"deceasedBoolean": 'b', "deceasedDateTime": 's', "maritalStatus": 'o', "multipleBirthBoolean": 'b',
		"multipleBirthInteger": 'n', "contact": 'a', "generalPractitioner": 'a', "managingOrganization": 'o', "link": 'a',
	}),
	"Practitioner": merged(humanProps, map[string]byte{"qualification": 'a'}),
	"RelatedPerson": merged(humanProps, map[string]byte{
		"patient": 'o', "relationship": 'a', "period": 'o',
	}),
	"Organization": {
		"identifier": 'a', "active": 'b', "type": 'a', "name": 's', "alias": 'a', "telecom": 'a', "address": 'a',
		"partOf": 'o', "contact": 'a', "endpoint": 'a',
	},
	"ProjectMembership": {
		"identifier": 'a', "active": 'b', "project": 'o', "invitedBy": 'o', "user": 'o', "profile": 'o',
		"userName": 's', "externalId": 's', "accessPolicy": 'o', "access": 'a', "userConfiguration": 'o', "admin": 'b',
	},
	"Project": {
		"identifier": 'a', "name": 's', "description": 's', "superAdmin": 'b', "strictMode": 'b',
		"checkReferencesOnWrite": 'b', "exportedResourceType": 'a', "owner": 'o', "features": 'a',
		"defaultPatientAccessPolicy": 'o', "defaultAccessPolicies": 'a', "setting": 'a', "secret": 'a',
		"systemSetting": 'a', "systemSecret": 'a', "site": 'a', "link": 'a', "defaultProfile": 'a',
	},
	"ClientApplication": {
		"identifier": 'a', "status": 's', "name": 's', "description": 's', "signInForm": 'o', "secret": 's',
		"retiringSecret": 's', "jwksUri": 's', "redirectUri": 's', "redirectUris": 'a', "launchUri": 's',
		"pkceOptional": 'b', "identityProvider": 'o', "accessTokenLifetime": 's', "refreshTokenLifetime": 's',
		"allowedOrigin": 'a', "defaultScope": 'a', "logo": 'o', "tosUri": 's', "policyUri": 's', "contact": 'a',
	},
	"Bot": {
		"identifier": 'a', "name": 's', "description": 's', "photo": 'o', "cron": 's', "cronTiming": 'o',
		"cronString": 's', "category": 'a', "system": 'b', "runtimeVersion": 's', "timeout": 'n', "sourceCode": 'o',
		"executableCode": 'o', "code": 's', "cdsService": 'o', "auditEventTrigger": 's', "auditEventDestination": 'a',
	},
	"AccessPolicy": {
		"name": 's', "basedOn": 'a', "compartment": 'o', "resource": 'a', "ipAccessRule": 'a',
	},
	"User": {
		"identifier": 'a', "firstName": 's', "lastName": 's', "externalId": 's', "email": 's', "emailVerified": 'b',
		"admin": 'b', "passwordHash": 's', "mfaSecret": 's', "mfaEnrolled": 'b', "mfaRequired": 'b', "project": 'o',
		"mfaMethod": 'a',
	},
}

// merged is a new map holding a's entries and then b's (b wins): a type's
// own properties or search parameters added to a shared set.
func merged[V any](a, b map[string]V) map[string]V {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}

// dateProps are the properties of FHIR type date among typeProps, and
// fhirDate is that type's regular expression in the FHIR specification.
var (
	dateProps = setOf("birthDate")
	fhirDate  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
)

// required fields per type (min cardinality 1).
var requiredProps = map[string][]string{
	"ProjectMembership": {"project", "user", "profile"},
	"RelatedPerson":     {"patient"},
}

// validateResource is a light version of Medplum's validator: unknown
// top-level properties, wrong JSON types and missing required properties of
// the types the CLI writes. Other types are accepted as they are.
func validateResource(r client.Resource) *client.OperationOutcome {
	typ := r.ResourceType()
	props, known := typeProps[typ]
	if !known {
		return nil
	}
	var issues []client.OutcomeIssue
	add := func(text, expr string) {
		issues = append(issues, client.OutcomeIssue{
			Severity: "error", Code: "structure", Details: &client.CodeableConcept{Text: text}, Expression: []string{expr},
		})
	}
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.TrimPrefix(k, "_")
		kind, ok := baseProps[name]
		if !ok {
			kind, ok = props[name]
		}
		if !ok {
			add(fmt.Sprintf("Invalid additional property %q", k), typ+"."+k)
			continue
		}
		if k != name {
			continue // primitive extension
		}
		if got := jsonKind(r[k]); got != kind {
			add(fmt.Sprintf("Invalid JSON type: expected %s, but got %s", kindName(kind), kindName(got)), typ+"."+k)
		} else if v, _ := r[k].(string); dateProps[k] && !fhirDate.MatchString(v) {
			add("Invalid date format", typ+"."+k) // captures 132, 134
		}
	}
	id := ""
	for _, k := range requiredProps[typ] {
		if _, ok := r[k]; !ok {
			// (This outcome has a random id, an invalid value's none:
			// captures 419, 132.)
			add(fmt.Sprintf("Missing required property %q", k), k)
			id = newID()
		}
	}
	if len(issues) == 0 {
		return nil
	}
	return &client.OperationOutcome{ResourceType: "OperationOutcome", ID: id, Issue: issues}
}

func jsonKind(v any) byte {
	switch v.(type) {
	case string:
		return 's'
	case bool:
		return 'b'
	case json.Number, float64:
		return 'n'
	case map[string]any, client.Resource:
		return 'o'
	case []any:
		return 'a'
	}
	return 0
}

func kindName(k byte) string {
	switch k {
	case 's':
		return "string"
	case 'b':
		return "boolean"
	case 'n':
		return "number"
	case 'o':
		return "object"
	case 'a':
		return "array"
	}
	return "null"
}
