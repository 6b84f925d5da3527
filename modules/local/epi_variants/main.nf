process EPI_VARIANTS {
    tag "${meta.id}"
    label 'process_gpu'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(vcf), path(fasta), path(fasta_index), path(models, stageAs: 'model*/*'), path(pairs), path(store)

    output:
    tuple val(meta), path("${prefix}")                          , emit: dir
    tuple val(meta), path("${prefix}/summary.tsv")              , emit: summary
    tuple val(meta), path("${prefix}/effects.tsv")              , emit: effects
    tuple val(meta), path("${prefix}/variants.annotated.vcf.gz"), emit: vcf
    path "versions.yml"                                         , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_variants"
    def pairs_arg = pairs ? "--pairs ${pairs}" : ''
    def store_arg = store ? "--data ${store}" : ''
    """
    epi-variants \\
        --vcf ${vcf} \\
        --genome ${fasta} \\
        ${pairs_arg} \\
        ${store_arg} \\
        --out ${prefix} \\
        ${args} \\
        ${models}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
        pysam: \$(python -c "import pysam; print(pysam.__version__)")
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_variants"
    """
    mkdir -p ${prefix}
    touch ${prefix}/summary.tsv ${prefix}/effects.tsv ${prefix}/run.json
    echo "" | gzip > ${prefix}/variants.annotated.vcf.gz

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        torch: \$(python -c "import torch; print(torch.__version__)")
        pysam: \$(python -c "import pysam; print(pysam.__version__)")
    END_VERSIONS
    """
}
