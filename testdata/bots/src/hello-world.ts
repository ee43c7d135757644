import { BotEvent, MedplumClient } from '@medplum/core';

// Answers with a greeting for the name in its input: {"name": "Homer"}.
export async function handler(_medplum: MedplumClient, event: BotEvent<{ name?: string }>): Promise<any> {
  return { greeting: `Hello, ${event.input?.name ?? 'world'}!` };
}
