process EPI_TRAIN {
    tag "${meta.id}:${meta.model}:fold${meta.fold}"
    label 'process_gpu'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(store)

    output:
    tuple val(meta), path("${prefix}")                  , emit: run
    tuple val(meta), path("${prefix}/model.pt")         , emit: model
    tuple val(meta), path("${prefix}/metrics.json")     , emit: metrics
    tuple val(meta), path("${prefix}/predictions.tsv")  , emit: predictions
    path "versions.yml"                                 , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_fold${meta.fold}"
    """
    epi-train \\
        --data ${store} \\
        --model ${meta.model} \\
        --split ${meta.split} \\
        --folds ${meta.folds} \\
        --fold ${meta.fold} \\
        --seed ${params.seed} \\
        --out ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_fold${meta.fold}"
    """
    mkdir -p ${prefix}
    touch ${prefix}/model.pt ${prefix}/last.pt ${prefix}/predictions.tsv ${prefix}/history.tsv
    echo '{"auroc": 0.5, "auprc": 0.5, "pearson_r": 0.0}' > ${prefix}/metrics.json

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
    END_VERSIONS
    """
}
