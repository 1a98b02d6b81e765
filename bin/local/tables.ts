/**
 * Creating a table on the emulator and waiting until it is ACTIVE: dynalite answers CreateTable with the table
 * still CREATING and makes it ACTIVE on a timer, and a request in between fails with ResourceNotFoundException.
 */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type TableDefinition, createTableInput } from '../../lambda/contract/resources';

export class TableNotReadyError extends Error {
  public constructor(table: string, ms: number) {
    super(`table ${table} was not ACTIVE ${ms} ms after CreateTable`);
    this.name = 'TableNotReadyError';
  }
}

export async function createActiveTable(dynamo: DynamoDBClient, def: TableDefinition, name: string, timeoutMs = 10_000): Promise<void> {
  await dynamo.send(new CreateTableCommand(createTableInput(def, name)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await dynamo.send(new DescribeTableCommand({ TableName: name }));
    if (d.Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new TableNotReadyError(name, timeoutMs);
    await new Promise((r) => setTimeout(r, 5));
  }
}
