/** Kinesis client for the local tools (emulators, event source mapping, sandbox): the consumer's own factory. */
export { kinesisClient } from '../../lambda/adapters/kinesis-client';
