import type { DeadLetter, DeadLettersService } from "@medusa/domain";
import { Effect } from "effect";

export interface InMemoryDeadLetters extends DeadLettersService {
  readonly all: () => ReadonlyArray<DeadLetter>;
}

export const makeInMemoryDeadLetters = (): InMemoryDeadLetters => {
  const letters: Array<DeadLetter> = [];
  return {
    put: (letter) => Effect.sync(() => void letters.push(letter)),
    recent: (limit) => Effect.sync(() => [...letters].reverse().slice(0, limit)),
    all: () => [...letters],
  };
};
