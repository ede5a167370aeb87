import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";

import alertSchema from "../../schema/alert.schema.json";
import { FieldViolation } from "../errors";

/**
 * The published alert schema (schema/alert.schema.json): the one source of
 * what an alert may hold, for this validator, the docs and users' own
 * template checks.
 */
export const ALERT_SCHEMA: Readonly<Record<string, unknown>> = alertSchema;

interface PropertySchema {
  description?: string;
  type?: string;
  maxLength?: number;
  anyOf?: PropertySchema[];
}

interface RuleSchema {
  title: string;
  description: string;
}

const properties: Record<string, PropertySchema> = alertSchema.properties;

/** Field names an alert may carry, in the schema's order. */
export const ALERT_FIELDS: readonly string[] = Object.keys(properties);

const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  strictTypes: false,
  strictRequired: false,
});
const { allOf: rules, ...base } = alertSchema;
const validateBase = ajv.compile(base);
const ruleChecks: ReadonlyArray<[RuleSchema, ValidateFunction]> = rules.map(
  (rule) => [rule, ajv.compile(rule)],
);

/**
 * Fields present in `value` that the schema does not know. Own properties
 * only: `in` would also find "toString" and friends on Object.prototype and
 * let them through unreported.
 */
export function findUnknownFields(value: Record<string, unknown>): string[] {
  return Object.keys(value).filter((key) => !Object.hasOwn(properties, key));
}

/**
 * Checks `value` against the alert schema: each field on its own first, then
 * the rules that tie fields together. Returns one violation per offending
 * field, each saying what was wrong and what is allowed; empty when valid.
 */
export function checkAlertSchema(
  value: Record<string, unknown>,
): FieldViolation[] {
  if (!validateBase(value)) return failClosed(describeFieldErrors(value));
  const violations: FieldViolation[] = [];
  for (const [rule, check] of ruleChecks) {
    if (!check(value)) {
      violations.push({ field: rule.title, description: rule.description });
    }
  }
  return violations;
}

/** A failed check that named no field must still refuse the alert. */
function failClosed(violations: FieldViolation[]): FieldViolation[] {
  if (violations.length > 0) return violations;
  return [{ field: "", description: "does not match the alert schema" }];
}

function describeFieldErrors(value: Record<string, unknown>): FieldViolation[] {
  const fields = new Set<string>();
  for (const error of validateBase.errors ?? []) {
    if (error.keyword === "required") {
      fields.add(String(error.params.missingProperty));
    } else {
      const field = error.instancePath.split("/")[1];
      if (field) fields.add(field);
    }
  }
  return [...fields].map((field) => ({
    field,
    description: describeField(field, value[field]),
  }));
}

function describeField(field: string, value: unknown): string {
  const schema = properties[field];
  const allowed = `allowed: ${schema.description ?? "see the schema"}`;
  if (value === undefined) return `is required; ${allowed}`;
  const types = typesOf(schema);
  const actual = jsonTypeOf(value);
  if (!types.has(actual) && !(actual === "integer" && types.has("number"))) {
    return `must be ${[...types].join(" or ")}, not ${actual}; ${allowed}`;
  }
  if (value === "") return `must not be empty; ${allowed}`;
  const maxLength = maxLengthOf(schema);
  if (typeof value === "string" && value.length > maxLength) {
    return `is ${value.length} characters long, at most ${maxLength}; ${allowed}`;
  }
  return `${JSON.stringify(value)} is not allowed; ${allowed}`;
}

function typesOf(schema: PropertySchema): Set<string> {
  const branches = schema.anyOf ?? [schema];
  return new Set(branches.map((b) => b.type ?? "string"));
}

/**
 * The longest string the field takes. Only string branches count: a number
 * branch has no maxLength, and letting it count as unlimited hid the limit
 * of decimal strings ("is not allowed" with no reason).
 */
function maxLengthOf(schema: PropertySchema): number {
  const branches = (schema.anyOf ?? [schema]).filter(
    (b) => (b.type ?? "string") === "string",
  );
  const limits = branches.map((b) => b.maxLength ?? Infinity);
  return Math.max(...limits);
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number") {
    return Number.isInteger(value) ? "integer" : "number";
  }
  return typeof value;
}
