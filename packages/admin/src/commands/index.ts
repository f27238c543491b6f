// The mqadmin commands, in the order `mqadmin help` lists them. A new command is one file in this
// folder plus its line here.
import type { Command } from '../command.js';
import { brokerStatus } from './brokerStatus.js';
import { clusterList } from './clusterList.js';
import { consumeMessage } from './consumeMessage.js';
import { consumerConnection } from './consumerConnection.js';
import { consumerProgress } from './consumerProgress.js';
import { consumerStatus } from './consumerStatus.js';
import { deleteSubGroup } from './deleteSubGroup.js';
import { deleteTopic } from './deleteTopic.js';
import { getBrokerConfig } from './getBrokerConfig.js';
import { getNamesrvConfig } from './getNamesrvConfig.js';
import { halfMessageList } from './halfMessageList.js';
import { producerConnection } from './producerConnection.js';
import { queryMsgById } from './queryMsgById.js';
import { queryMsgByKey } from './queryMsgByKey.js';
import { queryMsgByUniqueKey } from './queryMsgByUniqueKey.js';
import { resetOffsetByTime } from './resetOffsetByTime.js';
import { sendMessage } from './sendMessage.js';
import { topicList } from './topicList.js';
import { topicRoute } from './topicRoute.js';
import { timerStatus } from './timerStatus.js';
import { topicStatus } from './topicStatus.js';
import { updateBrokerConfig } from './updateBrokerConfig.js';
import { updateSubGroup } from './updateSubGroup.js';
import { updateTopic } from './updateTopic.js';
import { whereIsMessage } from './whereIsMessage.js';

export const COMMANDS: readonly Command[] = [
  updateTopic,
  deleteTopic,
  topicList,
  topicRoute,
  topicStatus,
  clusterList,
  brokerStatus,
  timerStatus,
  updateSubGroup,
  deleteSubGroup,
  consumerProgress,
  consumerConnection,
  consumerStatus,
  producerConnection,
  halfMessageList,
  queryMsgById,
  queryMsgByKey,
  queryMsgByUniqueKey,
  whereIsMessage,
  resetOffsetByTime,
  sendMessage,
  consumeMessage,
  getBrokerConfig,
  updateBrokerConfig,
  getNamesrvConfig,
];
