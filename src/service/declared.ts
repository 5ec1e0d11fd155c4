/**
 * Entities that providers declare from their configuration (BackendContext.declare): created at start-up
 * through the service (validated like a client's request, realised by the declaring provider) when
 * absent, updated to the declared attributes when present and `whenPresent` is `update`. A failure is
 * logged and start-up goes on: the entity is simply not there (or not updated), and the log says why.
 */
import type { DeclaredEntity, Logger } from '../backends/backend';
import type { EntityRequest } from '../model/types';
import type { OcciService } from './occi-service';
import { PROVIDER_ATTR } from './validate';

export interface Declaration {
  provider: string;
  entity: DeclaredEntity;
}

export async function applyDeclared(service: OcciService, declared: readonly Declaration[], log: Logger): Promise<void> {
  for (const { provider, entity: d } of declared) {
    const req: EntityRequest = {
      categories: [{ id: d.kind, class: 'kind' }, ...(d.mixins ?? []).map((id) => ({ id, class: 'mixin' as const }))],
      attributes: { ...d.attributes },
      links: [],
    };
    try {
      if (await service.entities.get(d.tenant, d.location)) {
        if (d.whenPresent === 'update') await service.update(d.tenant, d.location, req);
        continue;
      }
      const doc = service.prepare(d.tenant, req, { path: d.location });
      doc.provider = provider;
      doc.attributes[PROVIDER_ATTR] = provider;
      await service.create([{ resource: doc, links: [] }]);
      log.info(`provider ${provider} declared ${d.tenant}:${d.location}`);
    } catch (e) {
      log.warn(`provider ${provider} declared ${d.tenant}:${d.location}, which could not be ${d.whenPresent === 'update' ? 'created or updated' : 'created'}: ${(e as Error).message}`);
    }
  }
}
