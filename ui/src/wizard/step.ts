// The wizard dispatches on a step's `kind`; each step component takes only the view of its own
// kind, so reading a field that kind does not have is a type error.
import type { StepView } from '../lib/bindings';

/** The view of a step of kind `K`. */
export type StepOf<K extends StepView['kind']> = Extract<StepView, { kind: K }>;
